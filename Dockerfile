# One image, two entry points: node dist/operator/main.js and node dist/webhook/main.js
# (plus the agentgate CLI). Cannot be built on the machines agentgate is developed on
# (no Docker engine); CI there tests the same dist/ with the same lockfile.

# --- build: compile TypeScript with the dev dependencies ---------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY api ./api
COPY lib ./lib
COPY cel ./cel
COPY boundary ./boundary
COPY testing ./testing
COPY operator ./operator
COPY webhook ./webhook
COPY cli ./cli
RUN npx tsc -p tsconfig.json \
 && find dist -name '*.test.js*' -delete

# --- production dependencies only ---------------------------------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime: non-root, read-only friendly ------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The CRDs are read at runtime (validators and types derive from them).
COPY package.json ./
COPY crds ./crds
USER 65532:65532
ENTRYPOINT ["node"]
# V8 flags: operator/args.ts OPERATOR_NODE_FLAGS (packaging/chart.test.ts keeps them equal).
CMD ["--max-semi-space-size=1", "--optimize-for-size", "/app/dist/operator/main.js"]
