"""The import engine: pure Python, usable without Airflow (nothing here may import ``airflow``)."""
