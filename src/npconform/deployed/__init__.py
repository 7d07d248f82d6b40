"""What is deployed, examined for tenant isolation: the cluster's namespaces, pods and
NetworkPolicies read (``read``), computed on pod classes (``npconform.model.isolation``),
and, on request, proven on live traffic from twins of the real source pods (``twins``).
"""
