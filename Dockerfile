# The backup as a Fargate task (serverless.yml: backupRunner=fargate, deploy/backup-task.cjs), arm64.
#   docker build --platform linux/arm64 -t <account>.dkr.ecr.<region>.amazonaws.com/vigil-backup:<version> .
#   docker push ...; then deploy with --param backupTaskImage=<that image> (a tag or an @sha256 digest).
# The same bundle as the Lambda's code (npm run build:task), Node of deploy/runtime.json, and
# pg_dump / pg_restore of PG_MAJOR from Debian (trixie ships 17): at least the watched server's major.
# Pin the base by digest in your registry once built (node:<version>-trixie-slim@sha256:...).
ARG NODE_VERSION=24.22.3
ARG PG_MAJOR=17
# The stage's databaseSslCaFile, a file of the project, when it names one (empty: the RDS bundle inside the code).
ARG DATABASE_SSL_CA_FILE=""

FROM node:${NODE_VERSION}-trixie-slim AS build
ARG DATABASE_SSL_CA_FILE
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build:task -- /out "${DATABASE_SSL_CA_FILE}"

FROM node:${NODE_VERSION}-trixie-slim
ARG PG_MAJOR
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates "postgresql-client-${PG_MAJOR}" \
 && rm -rf /var/lib/apt/lists/* \
 && /usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump --version
COPY --from=build /out/ /app/
# The task writes only to /tmp (the database CA bundle for libpq); it needs no root.
USER node
WORKDIR /app
CMD ["node", "/app/task.js"]
