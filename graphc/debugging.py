"""`tf.debugging`: the assertions of `graphc.ops.asserts` under TF1's debugging namespace
(`tf.debugging.assert_equal` is `tf.assert_equal`)."""

from graphc.compat import missing_names
from graphc.ops.asserts import Assert as Assert
from graphc.ops.asserts import assert_equal as assert_equal
from graphc.ops.asserts import assert_greater as assert_greater
from graphc.ops.asserts import assert_greater_equal as assert_greater_equal
from graphc.ops.asserts import assert_less as assert_less
from graphc.ops.asserts import assert_less_equal as assert_less_equal
from graphc.ops.asserts import assert_negative as assert_negative
from graphc.ops.asserts import assert_non_negative as assert_non_negative
from graphc.ops.asserts import assert_non_positive as assert_non_positive
from graphc.ops.asserts import assert_none_equal as assert_none_equal
from graphc.ops.asserts import assert_positive as assert_positive
from graphc.ops.asserts import check_numerics as check_numerics

__getattr__ = missing_names(__name__, "tf.debugging")  # a TF1 name graphc lacks says so
