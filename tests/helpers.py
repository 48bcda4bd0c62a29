"""Helpers the tests share (fixtures live in the conftest modules; plain values and functions
live here, so that no test imports a conftest module)."""

import datetime

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"
STAGING = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_staging"


def day(month, number):
    return datetime.datetime(2023, month, number, tzinfo=datetime.UTC)
