"""The registry half of MLflow's REST API (/api/2.0/mlflow/...), so that the unmodified MLflow
client reads and writes the portal's catalog and registry.

- `names`: MLflow's registered-model names <-> (namespace, model_name);
- `errors`: MLflow's error shape ({"error_code", "message"}) and statuses;
- `filters`: MLflow's search filter grammar, parsed and turned into ORM conditions;
- `documents`: portal rows -> MLflow's JSON messages (model_registry.proto);
- `auth`: HTTP Basic with the portal's users, throttled like every sign-in;
- `views`, `urls`: the endpoints, calling the catalog and registry services.
"""
