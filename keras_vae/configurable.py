"""Plain objects whose constructor arguments are their whole state: bodies, KL schedules.

Keras serialises them with `get_config` / `from_config` (registered with `keras.saving.register_keras_serializable`,
they load in safe mode); they print as their constructor call and compare equal when their configs do.
"""


class Configurable:
    """Base class: the instance's attributes are its constructor's arguments, by name.

    Example:
        >>> class Ramp(Configurable):
        ...     def __init__(self, steps):
        ...         self.steps = steps
        >>> Ramp(10), Ramp(10) == Ramp.from_config(Ramp(10).get_config())
        (Ramp(steps=10), True)
    """

    def get_config(self):
        return dict(vars(self))

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()
