// A minimal voice-agent front end, written the way LiveKit's React starter is: useSession
// with the standard token endpoint, the agent dispatched by the token (agentName), and the
// state useAgent reports. Everything a user would read is also in data attributes for tests.
//
// Query parameters: proxy (the origin serving POST /api/connection-details), agentName,
// room (optional, else the endpoint picks one), timeout (agent connect timeout in ms,
// optional, else components-react's default of 20 s).
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import {
  RoomAudioRenderer,
  SessionProvider,
  useAgent,
  useRemoteParticipants,
  useSession,
  useSessionContext,
} from '@livekit/components-react';
import { ParticipantKind, TokenSource } from 'livekit-client';

const params = new URLSearchParams(window.location.search);
const proxy = (params.get('proxy') ?? window.location.origin).replace(/\/$/, '');
const agentName = params.get('agentName');
// Only the options given: the endpoint token source sends every key it is handed.
const sessionOptions = {
  ...(agentName && { agentName }),
  ...(params.get('room') && { roomName: params.get('room') }),
  ...(params.get('timeout') && { agentConnectTimeoutMilliseconds: Number(params.get('timeout')) }),
};

// Module scope: one token source for the page's life, so its cache survives re-renders.
const tokenSource = TokenSource.endpoint(`${proxy}/api/connection-details`);

function Status({ startError }) {
  const session = useSessionContext();
  const agent = useAgent();
  const participants = useRemoteParticipants();
  const agentParticipant = agent.internal.agentParticipant;
  const failure = agent.failureReasons?.join(' ') ?? '';
  return (
    <section
      id="status"
      data-connection-state={session.connectionState}
      data-agent-state={agent.state}
      data-agent-joined={agentParticipant ? 'true' : 'false'}
      data-agent-identity={agentParticipant?.identity ?? ''}
      data-room={session.room.name ?? ''}
      data-failure={failure}
      data-error={startError}
    >
      <p>
        Connection: <strong id="connection">{session.connectionState}</strong>
      </p>
      <p>
        Agent: <strong id="agent">{agent.state}</strong>
        {agentParticipant ? ` (${agentParticipant.identity})` : ''}
      </p>
      {failure && (
        <p id="failure" role="alert">
          {failure}
        </p>
      )}
      {startError && (
        <p id="error" role="alert">
          {startError}
        </p>
      )}
      <ul id="participants">
        {participants.map((p) => (
          <li key={p.identity}>
            {p.identity} {p.kind === ParticipantKind.AGENT ? 'AGENT' : 'STANDARD'}
          </li>
        ))}
      </ul>
    </section>
  );
}

function App() {
  const session = useSession(tokenSource, sessionOptions);
  const [startError, setStartError] = useState('');
  const start = () => {
    setStartError('');
    session.start().catch((err) => setStartError(String(err?.message ?? err)));
  };
  return (
    <SessionProvider session={session}>
      <h1>Talk to {agentName || 'the agent'}</h1>
      <button id="start" onClick={start} disabled={session.connectionState !== 'disconnected'}>
        Start call
      </button>
      <button id="end" onClick={() => session.end()} disabled={!session.isConnected}>
        End call
      </button>
      <Status startError={startError} />
      <RoomAudioRenderer />
    </SessionProvider>
  );
}

createRoot(document.getElementById('root')).render(<App />);
