#!/usr/bin/env bash
# Makes the virtualenv with the third-party OpenAI clients that test/openai-python-clients.e2e-spec.ts
# runs against the /v1 surface: the official `openai` Python SDK and LangChain's `ChatOpenAI`, from
# PyPI at pinned versions. Prints the virtualenv's path; kept between runs.
#
#   bash scripts/openai-clients-venv.sh        create (if needed) and print the path
#
#   OPENAI_CLIENTS_VENV        where the virtualenv lives (default ~/.cache/nest-chatbot/openai-clients-<pins>)
#   OPENAI_CLIENTS_CHECK_ONLY  set: do not install; exit 1 when the virtualenv is missing
set -euo pipefail

pins=(openai==3.51.0 langchain-openai==1.7.4 langchain-core==1.8.1)
tag=$(printf '%s' "${pins[*]}" | sha256sum | cut -c1-12)
venv=${OPENAI_CLIENTS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nest-chatbot/openai-clients-$tag}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import openai, langchain_openai' 2>/dev/null; then
  [ -z "${OPENAI_CLIENTS_CHECK_ONLY:-}" ] || exit 1
  echo "Installing ${pins[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}" >&2
fi
echo "$venv"
