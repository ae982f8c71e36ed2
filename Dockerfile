# Sift: the Streamlit app over core, as a non-root user with its state on a volume; the same image runs
# the scoring API (`python -m core serve --host 0.0.0.0`, port 8000).
# Production profile: the sign-in gate must be configured (SIFT_PASSWORD, and SIFT_ADMIN_PASSWORD for
# changes), error details are hidden and XSRF protection is on (.streamlit/config.toml); the API refuses
# to serve without keys (SIFT_API_KEYS). Either unless SIFT_ALLOW_OPEN=1. See the README.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SIFT_HOME=/home/sift/state

RUN useradd --create-home --uid 1000 sift
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

# the code stays root-owned: the app user can write only its state volume
COPY . .
RUN mkdir -p "$SIFT_HOME" && chown sift:sift "$SIFT_HOME"

USER sift
VOLUME ["/home/sift/state"]
EXPOSE 8501 8000

# healthy when whichever of the two runs answers 200: the app on 8501 or the API on 8000 (urlopen raises
# on a refused connection and on any error status, such as the API's 503 when the database is unreachable)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request as r; r.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)" 2>/dev/null \
     || python -c "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/health', timeout=2)" 2>/dev/null

# Refuse to serve an open app: a password hash (or a mounted secrets.toml) is required, unless the
# operator says otherwise with SIFT_ALLOW_OPEN=1. Shell form, so `exec` makes streamlit PID 1.
CMD if [ -z "$SIFT_PASSWORD" ] && [ ! -f .streamlit/secrets.toml ] && [ "$SIFT_ALLOW_OPEN" != 1 ]; then \
        echo "error: set SIFT_PASSWORD to a hash from 'docker run --rm -it sift python -m core hash-password'" \
             "(or SIFT_ALLOW_OPEN=1 to run without a password)." >&2; \
        exit 2; \
    fi; \
    python -m core demo && exec streamlit run streamlit_app.py --server.address=0.0.0.0 --server.port=8501
