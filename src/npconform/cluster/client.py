"""Kubernetes API clients: one per thread (the client's exec streaming is not thread safe)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from npconform.cluster.options import UsageError

IN_CLUSTER = "the pod's service account"


class Clients:
    """Creates API clients from one kubeconfig/context, or (``kubeconfig`` None) from the
    service account of the pod it runs in; ``api()`` is per thread."""

    def __init__(self, kubeconfig: Path | None, context: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self._local = threading.local()

    @property
    def credentials(self) -> str:
        """Whose credentials these clients use, for messages."""
        return str(self.kubeconfig) if self.kubeconfig is not None else IN_CLUSTER

    def new(self) -> client.ApiClient:
        if self.kubeconfig is None:
            cfg = client.Configuration()
            try:
                config.load_incluster_config(client_configuration=cfg)
            except ConfigException as e:
                raise UsageError(f"no in-cluster credentials: {e}") from None
            api = client.ApiClient(cfg)
            api.configuration.retries = 3
            return api
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

    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api())

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
                    f"of {self.credentials} (HTTP {e.status})"
                ) from None
            raise UsageError(f"the API server answered HTTP {e.status}: {e.reason}") from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise UsageError(
                f"the API server at {self.api().configuration.host} is unreachable: "
                f"{type(e).__name__}"
            ) from None
        return str(v.git_version)


def api_message(e: ApiException) -> str:
    """The API server's own message (the Status body's), else the body, else the reason."""
    try:
        message = json.loads(e.body or "{}").get("message")
    except (TypeError, ValueError, AttributeError):
        message = None
    return str(message or e.body or e.reason or "")


def forbidden(e: BaseException | None) -> str:
    """The API server's message when ``e`` (or an exception it was raised from) is a
    refusal by authorization (RBAC: "... cannot create resource ..."), not by an admission
    webhook; "" otherwise."""
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, ApiException) and e.status == 403:
            message = api_message(e)
            if "cannot" in message and "admission webhook" not in message:
                return message
        e = e.__cause__ or e.__context__
        seen += 1
    return ""


def to_dict(obj: Any) -> Any:
    """A client model (or anything) as plain JSON-style data with camelCase keys."""
    return client.ApiClient().sanitize_for_serialization(obj)
