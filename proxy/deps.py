"""What route handlers get injected: the settings, the one LiveKitAPI client, the dispatcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from livekit import api

from devstack.settings import Settings
from proxy.delivery import DeliveryWatcher
from proxy.dispatcher import Dispatcher


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _livekit(request: Request) -> api.LiveKitAPI:
    """The app's one LiveKitAPI client (one aiohttp session for every request)."""
    return request.app.state.lk


def _dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


def _watcher(request: Request) -> DeliveryWatcher:
    return request.app.state.watcher


SettingsDep = Annotated[Settings, Depends(_settings)]
LiveKit = Annotated[api.LiveKitAPI, Depends(_livekit)]
DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
WatcherDep = Annotated[DeliveryWatcher, Depends(_watcher)]
