"""LiveKit Inference offline: a gateway that speaks the wire protocol livekit-agents'
`inference.STT/TTS/LLM` and turn detectors speak (livekit/agents/inference/), served by
engines that run here: Whisper for speech to text, Piper (or espeak-ng) for speech, a
stand-in or forwarded LLM, and an end-of-turn stand-in. A worker the stack runs points
LIVEKIT_INFERENCE_URL at it, so an agent that names its models as Inference strings talks
with no account, key or network. It imports devstack/ only."""
