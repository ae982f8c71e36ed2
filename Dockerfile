# Sift: the Streamlit app over core, as a non-root user with its state on a volume.
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

COPY --chown=sift:sift . .
RUN mkdir -p "$SIFT_HOME" && chown sift:sift "$SIFT_HOME"

USER sift
VOLUME ["/home/sift/state"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"

CMD ["sh", "-c", "python -m core demo && exec streamlit run streamlit_app.py --server.address=0.0.0.0 --server.port=8501"]
