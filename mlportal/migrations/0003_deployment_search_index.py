"""Full-text index for deployments: moved to the deployments app.

Kept, without operations, so that the databases that applied it and those that did not
agree; deployments' 0004_search_index creates the index it used to create, unless it
exists.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mlportal", "0002_search_indexes"),
    ]

    operations = []
