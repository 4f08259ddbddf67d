# One image for every Clothes Hanger service; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Care-label OCR: Debian's Tesseract with Korean, and tesserocr built against it (the PyPI wheel
# bundles a newer Tesseract that reads short Korean line crops worse; see docs/ocr.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng \
      libtesseract-dev libleptonica-dev pkg-config g++ libgl1 libglib2.0-0 \
 && pip install --no-cache-dir --no-binary tesserocr tesserocr==2.13.0 \
 && apt-get purge -y g++ pkg-config && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
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
