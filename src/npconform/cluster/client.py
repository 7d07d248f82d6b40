"""Kubernetes API clients: one per thread (the client's exec streaming is not thread safe)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from npconform.cluster.options import UsageError


class Clients:
    """Creates API clients from one kubeconfig/context; ``api()`` is per thread."""

    def __init__(self, kubeconfig: Path, context: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self._local = threading.local()

    def new(self) -> client.ApiClient:
        try:
            api = config.new_client_from_config(
                config_file=str(self.kubeconfig), context=self.context, persist_config=False
            )
        except ConfigException as e:
            raise UsageError(f"bad kubeconfig {self.kubeconfig}: {e}") from None
        except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as e:
            raise UsageError(f"bad kubeconfig {self.kubeconfig}: {type(e).__name__}: {e}") from None
        api.configuration.retries = 3
        return api

    def api(self) -> client.ApiClient:
        a = getattr(self._local, "api", None)
        if a is None:
            a = self._local.api = self.new()
        return a

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api())

    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api())

    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api())

    def net(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self.api())

    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api())

    def check_reachable(self) -> str:
        """The server's git version; a UsageError naming the problem otherwise."""
        try:
            v = client.VersionApi(self.api()).get_code(_request_timeout=10)
        except UsageError:
            raise
        except ApiException as e:
            if e.status in (401, 403):
                raise UsageError(
                    f"the API server at {self.api().configuration.host} refused the credentials "
                    f"of {self.kubeconfig} (HTTP {e.status})"
                ) from None
            raise UsageError(f"the API server answered HTTP {e.status}: {e.reason}") from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise UsageError(
                f"the API server at {self.api().configuration.host} is unreachable: "
                f"{type(e).__name__}"
            ) from None
        return str(v.git_version)


def to_dict(obj: Any) -> Any:
    """A client model (or anything) as plain JSON-style data with camelCase keys."""
    return client.ApiClient().sanitize_for_serialization(obj)
