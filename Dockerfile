# One image, two services: `vchannel engine` (8000) and `vchannel schedule-api` (8001).
# docker-compose.yml also runs `vchannel origin` (the sample media, 8080), `vchannel demo` and
# `vchannel cdn` (the CloudFront stand-in, nginx, 8090).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml constraints.txt README.md ./
COPY common common
COPY engine engine
COPY schedule_api schedule_api
COPY cloudformation cloudformation
COPY vchannel vchannel
COPY samples/media samples/media
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /app vchannel \
    && mkdir -p /data \
    && chown vchannel /data

USER vchannel
VOLUME ["/data"]
EXPOSE 8000 8001 8080
CMD ["vchannel", "engine"]
