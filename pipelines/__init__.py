"""NTM/OCOP monitoring warehouse: the Dagster code location and the `ntm` command."""
