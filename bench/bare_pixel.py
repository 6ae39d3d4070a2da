"""The reference for bench/tracking_pixel.py: a bare FastAPI app serving the same 43-byte GIF
on the same path (one route, no middleware, no database), run with the same uvicorn settings."""

from fastapi import FastAPI, Response

from outreach.tracking.router import NO_STORE, PIXEL

app = FastAPI()


@app.get("/t/o/{token}.gif")
async def pixel(token: str) -> Response:
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)
