# The dise worker image (used by docker-compose.yml). Sources run through tsx; no build step.
FROM node:20-bookworm-slim
WORKDIR /app
# isolated-vm 5 (the sandbox on Node 20) compiles with node-gyp when no prebuilt binary can be
# downloaded, and the slim image has no toolchain; npm would drop the failed build without a word
# (scripts/check-system.mjs, run after install, stops the build instead).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
ENTRYPOINT ["node", "bin/dise.mjs"]
CMD ["worker"]
