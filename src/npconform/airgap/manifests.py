"""Third-party manifests (Calico, Gatekeeper) from their pinned upstream version.

Online they are fetched from the pinned URL and checked against the pinned sha256;
offline they are read from the pinned module in the Go module cache. Both give the same
bytes; the sha256 is checked either way. Nothing is ever copied into the repository.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from npconform.airgap.gobuild import GoBuildError, go_env, module_dir
from npconform.lock import Lock


class ManifestError(RuntimeError):
    pass


def fetch(lock: Lock, key: str, cache: Path, offline: bool) -> str:
    m = lock.manifests[key]
    data: bytes | None = None
    errors = []
    mod = lock.module(m.module)
    try:
        d = module_dir(
            mod,
            go_env(
                cache,
                {
                    "GONOSUMDB": "github.com/projectcalico",
                    "GOFLAGS": "-mod=mod",
                    **({"GOPROXY": "off"} if offline else {}),
                },
            ),
            cache / "logs" / f"manifest-{key}.log",
        )
        data = (d / m.file).read_bytes()
    except (GoBuildError, OSError) as e:
        errors.append(f"module cache: {e}")
    if data is None and not offline:
        try:
            with urllib.request.urlopen(m.url, timeout=30) as resp:
                data = resp.read()
        except (urllib.error.URLError, OSError) as e:
            errors.append(f"{m.url}: {e}")
    if data is None:
        raise ManifestError(f"manifest '{key}' unavailable ({'; '.join(errors)})")
    digest = hashlib.sha256(data).hexdigest()
    if digest != m.sha256:
        raise ManifestError(f"manifest '{key}' has sha256 {digest}, the lock pins {m.sha256}")
    return data.decode()
