"""`FlagValues` and `Flag`: the registry and parser behind `tf.flags` (absl's design).

Command lines are absl's: `--name=value`, `--name value`, `-name=value`; booleans as
`--name`, `--noname` or `--name=true|false` (also t/f, 1/0); `--` ends the flags. An
argument that is not a flag is left for `main`, and parsing goes on after it.

Invariants:
- A flag's value is its default (converted by the flag's parser when it is defined: a
  bad default raises then), or the value of its last occurrence on the command line
  parsed most recently, or what was last assigned to it.
- Reading a flag from a `FlagValues` that was never parsed parses `sys.argv` first,
  leaving flags it does not define for `main` (TF1's `FLAGS` parses implicitly too).
- A parse converts and checks every value before it sets any: one that fails
  (`IllegalFlagValueError`, `UnrecognizedFlagError`) changes no flag.
- Assigning `FLAGS.name = value` stores `value` as it is (absl does not convert it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from graphc.errors import GraphcError

HELP_FLAGS = ("help", "h", "helpshort", "helpfull", "?")


class Error(GraphcError, ValueError):
    """Base of the flag errors (absl's `flags.Error`)."""


class IllegalFlagValueError(Error):
    """A value (on the command line or as a default) that the flag's type refuses."""


class UnrecognizedFlagError(Error):
    """A flag that is not defined, where only defined flags are accepted."""


class DuplicateFlagError(Error):
    """A second definition of a flag's name."""


class HelpRequested(Exception):
    """`--help` (or `-h`, `--helpfull`) was on a command line parsed with `with_help`."""


class Flag:
    """One flag: its name, parser, default, help text and current value."""

    def __init__(
        self,
        name: str,
        default: Any,
        help: str | None,
        parser: Callable[[Any], Any],
        kind: str = "",
        boolean: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name or name.startswith("-") or "=" in name:
            raise Error(f"{name!r} is not a flag name: give a non-empty string without - or =")
        self.name, self.help, self.parser = name, help or "(no help available)", parser
        self.kind, self.boolean = kind, boolean
        self.required, self.present = False, False
        self.default = self.convert(default, default=True) if default is not None else None
        self.value = self.default

    def convert(self, value: Any, default: bool = False) -> Any:
        """`value` as the flag's type; raises IllegalFlagValueError naming the flag."""
        try:
            return self.parser(value)
        except (TypeError, ValueError) as exc:
            given = f": default {value!r}" if default else f"={value}"
            raise IllegalFlagValueError(f"flag --{self.name}{given}: {exc}") from None

    def help_text(self) -> str:
        """The flag's lines of `--help`."""
        prefix = f"--[no]{self.name}" if self.boolean else f"--{self.name}"
        lines = [f"  {prefix}: {self.help}", f"    (default: {_shown(self.default)})"]
        if self.kind:
            lines.append(f"    ({self.kind})")
        return "\n".join(lines)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return repr(str(value).lower())
    if isinstance(value, list):
        return repr(",".join(map(str, value)))
    return repr(str(value))


class FlagValues:
    """The registry of flags and their values (absl's `FlagValues`; `FLAGS` is one)."""

    def __init__(self) -> None:
        self.__dict__["_flags"] = {}  # name -> Flag, in definition order
        self.__dict__["_parsed"] = False

    # ---- reading and writing values -------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):  # copy, pickle and inspect probe
            raise AttributeError(name)
        flags = self.__dict__["_flags"]
        if name == "__flags":  # TF<1.5 scripts read FLAGS.__flags: {name: value}
            return self.flag_values_dict()
        if name not in flags:
            raise AttributeError(f"no flag --{name} is defined (define it with DEFINE_*)")
        if not self.__dict__["_parsed"]:
            self(sys.argv or [""], known_only=True)
        return flags[name].value

    def __setattr__(self, name: str, value: Any) -> None:
        flag = self[name]
        flag.value, flag.present = value, True

    def __delattr__(self, name: str) -> None:
        """Removes the flag `name` (so that a notebook can define it again)."""
        self[name]
        del self.__dict__["_flags"][name]

    def __getitem__(self, name: str) -> Flag:
        """The `Flag` object named `name`."""
        flags = self.__dict__["_flags"]
        if name not in flags:
            raise UnrecognizedFlagError(f"no flag --{name} is defined")
        return flags[name]

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__["_flags"]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.__dict__["_flags"]))

    def __len__(self) -> int:
        return len(self.__dict__["_flags"])

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.__dict__["_flags"]})

    def flag_values_dict(self) -> dict[str, Any]:
        """{name: value} of every flag (no parse happens)."""
        return {name: flag.value for name, flag in self.__dict__["_flags"].items()}

    def get_flag_value(self, name: str, default: Any) -> Any:
        """The value of flag `name`, or `default` if there is no such flag (no parse)."""
        flag = self.__dict__["_flags"].get(name)
        return default if flag is None else flag.value

    # ---- parsing ----------------------------------------------------------------------------
    def __call__(
        self, argv: Sequence[str], known_only: bool = False, with_help: bool = False
    ) -> list[str]:
        """Parses `argv` (program name first); returns it without the flags it set.

        Args:
          argv: the command line, `sys.argv`-style.
          known_only: leave flags that are not defined in the result (else they raise).
          with_help: a `--help`, `-h`, `--helpshort` or `--helpfull` raises
            `HelpRequested` (what `app.run` does with it: print `get_help()`, exit).

        Raises:
          IllegalFlagValueError: a value the flag's type refuses, or a required flag
            left without a value; no flag is changed.
          UnrecognizedFlagError: an unknown flag, unless `known_only`.
        """
        if isinstance(argv, str | bytes) or not argv:
            raise TypeError(f"argv must be a non-empty list of strings, not {argv!r}")
        values, rest = self._scan(list(argv[1:]), known_only, with_help)
        self._check_required(values)
        for name, value in values.items():
            flags = self.__dict__["_flags"]
            flags[name].value, flags[name].present = value, True
        self.__dict__["_parsed"] = True
        return [argv[0], *rest]

    def _scan(
        self, args: list[str], known_only: bool, with_help: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """({flag name: converted value}, arguments left) for the arguments after argv[0]."""
        values: dict[str, Any] = {}
        rest: list[str] = []
        stream = iter(args)
        for arg in stream:
            if arg == "--":
                rest += ([arg] if known_only else []) + list(stream)
                break
            if not arg.startswith("-") or arg == "-":
                rest.append(arg)
                continue
            name, has_value, text = arg[2 if arg.startswith("--") else 1 :].partition("=")
            flag = self._find(name, arg, has_value)
            if flag is None:
                if with_help and name in HELP_FLAGS and text.lower() not in ("false", "0"):
                    raise HelpRequested(name)
                if not known_only:
                    raise UnrecognizedFlagError(f"unknown command line flag {arg!r}")
                rest.append(arg)
                continue
            if name != flag.name:  # --noname
                text = "false"
            elif not has_value:
                text = "true" if flag.boolean else next(stream, None)
                if text is None:
                    raise IllegalFlagValueError(f"flag --{name} needs a value: {arg}=VALUE")
            values[flag.name] = flag.convert(text)
        return values, rest

    def _find(self, name: str, arg: str, has_value: str) -> Flag | None:
        """The flag `name` spells (`noX` names boolean X), or None."""
        flags = self.__dict__["_flags"]
        if name in flags:
            return flags[name]
        negated = flags.get(name[2:]) if name.startswith("no") else None
        if negated is None or not negated.boolean:
            return None
        if has_value:
            raise IllegalFlagValueError(f"{arg}: --no{negated.name} takes no value")
        return negated

    def _check_required(self, values: dict[str, Any]) -> None:
        for name, flag in self.__dict__["_flags"].items():
            if flag.required and values.get(name, flag.value) is None:
                raise IllegalFlagValueError(f"flag --{name} must have a value other than None")

    def is_parsed(self) -> bool:
        return self.__dict__["_parsed"]

    def mark_as_parsed(self) -> None:
        """Flags are read as they are, without an implicit parse of `sys.argv`."""
        self.__dict__["_parsed"] = True

    def unparse_flags(self) -> None:
        """Every flag back to its default; the next read parses `sys.argv` again."""
        for flag in self.__dict__["_flags"].values():
            flag.value, flag.present = flag.default, False
        self.__dict__["_parsed"] = False

    def _parse_flags(self, args: Sequence[str] | None = None) -> list[str]:
        """TF<1.5's spelling: parses `args` (`sys.argv[1:]` if None); returns the rest."""
        argv = [sys.argv[0] if sys.argv else "", *(sys.argv[1:] if args is None else args)]
        return self(argv, known_only=True)[1:]

    # ---- defining and describing ----------------------------------------------------------
    def define(self, flag: Flag) -> Flag:
        """Registers `flag`; raises DuplicateFlagError if its name is taken."""
        flags = self.__dict__["_flags"]
        if flag.name in flags:
            raise DuplicateFlagError(f"the flag --{flag.name} is defined twice")
        if flag.name in dir(type(self)) or flag.name in self.__dict__:
            raise Error(f"the flag name --{flag.name} is a FlagValues method: choose another")
        flags[flag.name] = flag
        return flag

    def get_help(self) -> str:
        """Every flag's help text: name, help, default and type."""
        return "\n".join(flag.help_text() for flag in self.__dict__["_flags"].values())

    main_module_help = get_help

    def __str__(self) -> str:
        return self.get_help()
