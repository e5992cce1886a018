# The chiso766 worker and CLI for docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY streams ./streams
COPY sinks ./sinks
COPY dashboards ./dashboards
RUN pip install .
RUN useradd --create-home chiso766
USER chiso766
CMD ["chiso766", "worker"]
