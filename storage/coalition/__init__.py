"""The data of running the coalition: settings, applications, roles, the directory, check-ins,
audit, stats, groups."""
