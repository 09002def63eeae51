"""Field sealing moved to :mod:`kit.sealing`. This name stays only for
``identity.oidc.subjects``, which is being rewritten elsewhere during the kernel refactor;
delete this module once that file imports ``kit.sealing`` directly."""

from kit.sealing import derive_key

__all__ = ["derive_key"]
