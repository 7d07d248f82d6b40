"""The suite run inside the cluster: the CronJob, its runs, and where their evidence goes."""
