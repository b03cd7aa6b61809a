//! Test harness shared by the integration suites.
