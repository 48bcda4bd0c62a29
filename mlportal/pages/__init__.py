"""The auditors' pages, an app of their own (like Healthchecks' hc/front): see apps.py."""
