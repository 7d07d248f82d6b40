"""Traffic scenarios on the cluster: worlds of namespaces, pods and policies, and their steps."""
