"""The names Gatekeeper and the require-networkpolicy safeguard are known by.

One place for every literal the suite, the installer, the inventory and the fault
injection use to find Gatekeeper's objects on a cluster.
"""

from __future__ import annotations

NAMESPACE = "gatekeeper-system"
CONTROLLER = "gatekeeper-controller-manager"
AUDIT = "gatekeeper-audit"

CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
CONSTRAINT_VERSION = "v1beta1"
CONSTRAINT_KIND = "K8sRequireNetworkPolicy"
CONSTRAINT_PLURAL = "k8srequirenetworkpolicy"
# this suite's own constraint, and the one a Welkin install ships
CONSTRAINT_NAMES = ("require-networkpolicy", "elastisys-require-networkpolicy")

TEMPLATE_GROUP = "templates.gatekeeper.sh"
TEMPLATE_VERSION = "v1"
TEMPLATE_PLURAL = "constrainttemplates"

CONFIG_GROUP = "config.gatekeeper.sh"
CONFIG_VERSION = "v1alpha1"
CONFIG_PLURAL = "configs"
CONFIG_NAME = "config"

WEBHOOK_CONFIG = "gatekeeper-validating-webhook-configuration"
WEBHOOK = "validation.gatekeeper.sh"
MUTATING_WEBHOOK_CONFIG = "gatekeeper-mutating-webhook-configuration"
MUTATING_WEBHOOK = "mutation.gatekeeper.sh"
