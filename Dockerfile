# The chiso766 worker and CLI for docker-compose.yml.
FROM python:3.11.14-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY streams ./streams
COPY sinks ./sinks
COPY dashboards ./dashboards
RUN pip install .
# The worker's state dir (Faust's files) is a volume; created here so that it belongs to the user.
RUN useradd --create-home chiso766 && mkdir /home/chiso766/state && chown chiso766: /home/chiso766/state
USER chiso766
CMD ["chiso766", "worker"]
