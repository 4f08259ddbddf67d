# One image for every Clothes Hanger service; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hanger ./hanger
COPY adapters ./adapters
COPY streams ./streams
COPY inference ./inference
COPY db ./db
COPY bench ./bench
COPY samples ./samples
RUN pip install --no-cache-dir . && useradd --system --uid 10001 hanger
USER hanger
ENTRYPOINT ["hanger"]
