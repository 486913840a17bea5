// Package auth decides whether a playback request may be served: the playback-authorisation token of a private
// channel, the playback restriction policy attached to a channel, and the short signed strings the playback server
// puts in the URLs it hands out. It does no HTTP routing and no store access: the playback front looks up the channel,
// its account's playback key pairs, its policy and its revocations, asks this package, and answers a *Refusal with
// Refusal.WriteJSON.
//
// # What IVS does, and what this package does
//
// Viewer tokens (VerifyViewerToken) are JWTs signed by the customer with ES384 and the private half of one of the
// account's playback key pairs, passed as ?token= on the playbackUrl. The JWT mechanics (segments, base64url, the
// JOSE header, ES384 with a raw r||s signature) are golang-jwt's; this package keeps only what is specific to IVS:
// which algorithm is allowed (ES384 only, checked before any key is tried), which keys are tried (all of the
// account's key pairs, since IVS documents no kid; a kid naming one of them is only tried first), and the aws:
// claims. The payload is decoded strictly (one JSON object, no member twice, each claim of its type), following
// internal/realtime/token, whose unexported helpers (objectFields, dateClaim) are generic JWT-payload helpers and
// are copied here in small rather than imported: that package is the real-time provider's.
//
// Rules as IVS documents them (docs.aws.amazon.com/ivs/latest/LowLatencyUserGuide/private-channels-generate-tokens.html):
//
//   - aws:channel-arn must name the channel played;
//   - exp is required, and is checked when playback starts only: the playback front must not re-check it on later
//     requests (it seals its own session expiry into the URLs it hands out, see Sealer);
//   - aws:single-use-uuid makes the token good for one multivariant playlist (SingleUse), and aws:single-use-uuid or
//     aws:viewer-id caps exp at now + 10 minutes;
//   - aws:access-control-allow-origin is a comma-separated list of origins, each possibly with a wildcard host
//     (https://*.example.com); by default it restricts only the multivariant playlist and only browsers (clients
//     that send Origin); with aws:strict-origin-enforcement every request must carry a matching Origin, and at
//     most 5 origins may be listed;
//   - aws:viewer-id (at most 40 characters) and aws:viewer-session-version (an int64, default 0) are what
//     StartViewerSessionRevocation acts on: sessions whose version is at most the revoked version are refused
//     (Claims.CheckRevoked);
//   - aws:maximum-resolution (SD, HD, FULL_HD) filters renditions; this package only validates it.
//
// Decisions where IVS's behaviour is not documented (see ivs-reference.md §2):
//
//   - refusals are 403 with a JSON body {"error":"playback_auth_error","reason":…,"message":…}; only the error value
//     "playback_auth_error" was observed (a reused single-use token); reason and message are ours. A token that is
//     not a JWT at all is answered 400. Restriction-policy refusals say "playback_restriction_error";
//   - exp must be after now, with no leeway; the 10-minute cap allows 30 s of clock skew (MaxShortLivedExp), since
//     customers write exp = now + 600 on clocks that differ from ours;
//   - wrongly typed or out-of-range claims are refused (ReasonClaims) rather than ignored, so that a restriction the
//     customer meant to set is never silently dropped; aws:strict-origin-enforcement and aws:viewer-session-version
//     are also accepted as strings ("true", "12") since the IVS documentation shows them as placeholders in quotes;
//   - a wildcard host matches one or more labels in front of the suffix, never the bare suffix: https://*.a.com
//     matches https://x.a.com and https://x.y.a.com, not https://a.com;
//   - in the non-strict mode a mismatching Origin on the multivariant playlist is refused with 403 (rather than
//     answered without CORS headers): the browser could not use the answer anyway, and the refusal says why;
//   - a token's restrictions and the channel's restriction policy both apply (both must allow the request);
//   - restriction-policy countries apply to every request (multivariant, variant, segment), unlike origins:
//     IVS calls them geoblocking without the "multivariant playlist only" note it gives for origins, and a
//     variant or segment URL copied out of a playlist would otherwise play from anywhere. A viewer whose country
//     is unknown is refused when the policy lists countries, with a message saying how to configure detection;
//   - SingleUse remembers used UUIDs in memory: it is per process and forgotten on restart (a single-use token
//     could be replayed once after a restart, within its at most 10 minutes).
package auth
