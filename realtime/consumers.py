"""Placeholder until the websocket consumer lands (issue 4)."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class PaymentsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        await self.close(code=4401)
