import pytest
from django.core.exceptions import ValidationError

from registry.validators import validate_artifact_name, validate_link_uri


@pytest.mark.parametrize("uri", [
    "s3://abc_corp/claim/doc_classification/trained/1.tar.gz",
    "S3://bucket/key",
    "gs://bucket/models/model.pkl",
    "https://models.example.com/claim/model.onnx",
    "hdfs://namenode:8020/models/claim/1",
    "abfss://models@account.dfs.core.windows.net/claim/1.tar.gz",
    "wasbs://models@account.blob.core.windows.net/claim/1.tar.gz",
    "s3://bucket/a..b/model.v1..final",
    "s3://bucket/with%20space/model.pkl",
    "https://example.com/model.onnx?version=3",
])
def test_links_to_remote_objects_are_accepted(uri):
    validate_link_uri(uri)


@pytest.mark.parametrize(("uri", "reason"), [
    ("file:///etc/passwd", "Local files"),
    ("FILE:///etc/passwd", "Local files"),
    ("file:/etc/passwd", "Local files"),
    ("file://localhost/etc/passwd", "Local files"),
    ("/etc/passwd", "Local files"),
    ("./mlruns/0/model.pkl", "Local files"),
    ("mlruns/0/model.pkl", "Local files"),
    ("C:\\models\\model.pkl", "Local files"),
    ("\\\\server\\share\\model.pkl", "Local files"),
    ("%66ile:///etc/passwd", "Local files"),
    ("s3://bucket/../../etc/passwd", "'..'"),
    ("s3://bucket/models/..", "'..'"),
    ("https://host/a/..\\..\\etc/passwd", "'..'"),
    ("s3://bucket/a/%2e%2e/b", "'..'"),
    ("s3://bucket/a/%2E%2E%2Fsecret", "'..'"),
    ("s3://bucket/a/..%2f..%2fetc/passwd", "'..'"),
    ("s3://bucket/a/%252e%252e/b", "'..'"),
    ("s3://bucket/a/%25252e%25252e/b", "'..'"),
    ("https://host/x?path=../../etc/passwd", "'..'"),
    ("s3://bucket/a%25252525252e", "percent-encoded more times"),
    ("s3://bucket/model\x00.pkl", "control characters"),
    ("s3://bucket/model%00.pkl", "control characters"),
    ("s3://bucket/model%2500.pkl", "control characters"),
    ("s3://bucket/model\n.pkl", "control characters"),
    ("s3://bucket/model\t.pkl", "control characters"),
    ("s3://bucket/model\x7f.pkl", "control characters"),
    ("http://example.com/model.pkl", "scheme http:"),
    ("ftp://example.com/model.pkl", "scheme ftp:"),
    ("javascript:alert(1)", "scheme javascript:"),
    ("mlflow-artifacts:/0/model", "scheme mlflow-artifacts:"),
    ("runs:/abc/model", "scheme runs:"),
    ("models:/claim/1", "scheme models:"),
    ("abfs://c@account.dfs.core.windows.net/x", "scheme abfs:"),
    ("wasb://c@account.blob.core.windows.net/x", "scheme wasb:"),
    ("mlportal://artifacts/abc/model.pkl", "scheme mlportal:"),
    ("s3:/bucket/key", "bucket or host"),
    ("s3://bucket", "bucket or host"),
    ("s3://bucket/", "bucket or host"),
    ("https://[::1/model", "not a URI"),
    ("https://user:hunter2@example.com/model.pkl", "credentials"),
    ("https://bucket.s3.amazonaws.com/m.pkl?X-Amz-Signature=abc&X-Amz-Credential=x",
     "credentials"),
    ("https://account.blob.core.windows.net/c/m.pkl?sv=2020&sig=abc", "credentials"),
    ("https://example.com/m.pkl?access_token=abc", "credentials"),
    ("", "Give the URI"),
    ("s3://bucket/" + "k" * 2000, "at most 2000"),
])
def test_bad_links_are_rejected_saying_why(uri, reason):
    with pytest.raises(ValidationError) as rejected:
        validate_link_uri(uri)

    assert reason in rejected.value.messages[0]
    assert "hunter2" not in rejected.value.messages[0]


@pytest.mark.parametrize("name", ["trained", "static_data", "model.v2", "a", "x" * 100, "..a",
                                  "a..", "-dash"])
def test_good_artifact_names(name):
    validate_artifact_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "a b", "x" * 101, "naïve",
                                  "a\x00", "a\n", "%2e%2e"])
def test_bad_artifact_names(name):
    with pytest.raises(ValidationError):
        validate_artifact_name(name)
