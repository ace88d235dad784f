"""Initializers that give every weight of a layer its own draw."""

import keras


def clone_initializer(initializer, offset=0):
    """A copy of ``initializer`` that draws values of its own.

    A Keras 3 random initializer that is unseeded, or seeded with an int, returns the same values
    on every call, so one instance shared by several ``add_weight`` calls starts them all equal
    (query, key and value kernels, say). As ``keras.layers.MultiHeadAttention`` does, each weight
    gets a clone: unseeded, a clone draws a new seed (reproducible under
    ``keras.utils.set_random_seed``); seeded with an int, the clone's seed is ``seed + offset``,
    so a seeded layer is still reproducible and its weights still differ. Initializers without
    a seed (zeros, constants) and those seeded with a ``keras.random.SeedGenerator`` (which
    advances on every call) are returned as they are.

    Args:
        initializer: a ``keras.initializers.Initializer`` (or any callable).
        offset: added to an int seed; give each weight of a layer its own (e.g. its index).

    Returns:
        An initializer.

    Example:

    >>> init = keras.initializers.GlorotUniform(seed=1)
    >>> a = clone_initializer(init, 0)((3, 3))
    >>> b = clone_initializer(init, 1)((3, 3))
    >>> bool(keras.ops.all(a == b))
    False
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    config = initializer.get_config()
    if "seed" not in config or not (config["seed"] is None or isinstance(config["seed"], int)):
        return initializer
    if config["seed"] is not None:
        config["seed"] += offset
    return initializer.__class__.from_config(config)
