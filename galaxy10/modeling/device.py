"""Which device trains, and the settings that only make sense on a GPU.

The ``gpu`` profile (:mod:`galaxy10.core.profiles`) asks for mixed precision; it is turned on only
when TensorFlow sees a GPU, because on a CPU float16 arithmetic is emulated and slower.
"""

from __future__ import annotations


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow can use (empty on a CPU-only machine)."""
    from galaxy10.core.quiet import load_tensorflow

    tf = load_tensorflow()

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def describe_device() -> str:
    """One line naming the device Keras trains on, e.g. ``"device: CPU (2 cores), no GPU"``.

    Printed by ``train`` and notebook 04, so that a number quoted from a run says where it
    came from (an epoch takes seconds on a GPU and a minute on 2 CPU cores).
    """
    import os

    from galaxy10.core.quiet import load_keras


    keras = load_keras()

    gpus = gpu_names()
    policy = keras.mixed_precision.global_policy().name
    if gpus:
        from galaxy10.core.quiet import load_tensorflow

        tf = load_tensorflow()

        details = []
        for device in tf.config.list_physical_devices("GPU"):
            info = tf.config.experimental.get_device_details(device)
            details.append(info.get("device_name", device.name))
        return f"device: GPU ({', '.join(details)}), precision {policy}"
    return f"device: CPU ({os.cpu_count()} cores), no GPU, precision {policy}"


def use_mixed_precision(wanted: bool) -> bool:
    """Set Keras' global dtype policy: ``mixed_float16`` if ``wanted`` and a GPU is present.

    Otherwise (and when not wanted) the policy is reset to ``float32``, so that a profile
    without mixed precision run after one with it in the same process trains in float32.
    Models built afterwards keep their last layer in float32 (see
    :func:`galaxy10.modeling.models.build_galaxy_cnn`), as mixed precision requires for a stable
    softmax and loss.

    Returns
    -------
    bool
        Whether mixed precision is now on.
    """
    from galaxy10.core.quiet import load_keras

    keras = load_keras()

    on = bool(wanted) and bool(gpu_names())
    keras.mixed_precision.set_global_policy("mixed_float16" if on else "float32")
    return on
