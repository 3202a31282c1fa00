#!/usr/bin/env bash
# Installs onnxruntime-node (pinned in package.json) into scripts/ort/node_modules if missing.
# ONNXRUNTIME_NODE_INSTALL=skip: the package ships its CPU library; its install script
# would otherwise try a download.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/onnxruntime-node ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null
fi
