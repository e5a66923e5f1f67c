"""Checks of the arguments that the families, bodies, schedules and metrics take.

Each returns the value as a plain Python number (or tuple), or raises a ValueError that names the argument and
says what it must be.

Example:
    >>> from keras_vae.arguments import non_negative, positive_int, positive_ints
    >>> positive_int("k", 5000), positive_ints("filters", [32, 64]), non_negative("beta", 4)
    (5000, (32, 64), 4.0)
"""

import numbers


def _is_positive_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def positive_int(name, value):
    """`value` as an int, if it is an integer above 0 (a bool is not)."""
    if not _is_positive_int(value):
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def positive_ints(name, values):
    """`values` as a tuple of ints, if they are one or more integers above 0."""
    values = tuple(values)
    if not values or not all(map(_is_positive_int, values)):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {values!r}")
    return tuple(map(int, values))


def non_negative(name, value):
    """`value` as a float, if it is a real number of at least 0 (a bool is not; NaN is not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)
