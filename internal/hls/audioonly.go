package hls

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// An audio-only rendition (Config.AudioOnly) has no keyframes to cut at: it takes the segment boundaries of the
// rendition it follows. A boundary is a keyframe's decode time (the start of a segment of the followed rendition,
// whose audio up to it is in the segment before); AAC frames last 1024 samples (21.3 ms at 48 kHz), so a boundary
// falls inside one: the first frame at or after it begins the segment, which keeps the followed segment's start
// time (and so its date-time and duration). The followed rendition decides a boundary when the keyframe reaches
// it, so audio waits until the followed video has passed it.

// maxPreAudio bounds the frames an audio-only rendition holds before its start (the followed rendition's video
// stalled): the oldest half is dropped beyond it.
const maxPreAudio = 1000

// timeline returns the segment boundaries recorded (entries with msn 0 are empty), for an audio-only rendition
// that follows this one, with the timeline's origin once there is one (t0 and wall0 are final then; before, the
// writer may still be setting them).
func (m *Muxer) timeline() (bs [16]boundary, t0 time.Duration, wall0 time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.boundaries {
		if b.msn > 0 {
			return m.boundaries, m.t0, m.wall0
		}
	}
	return m.boundaries, 0, time.Time{}
}

// writeAudioOnly is WriteAAC of an audio-only rendition.
func (m *Muxer) writeAudioOnly(pts time.Duration, au []byte) {
	decided := time.Duration(m.cfg.Follow.decided.Load())
	if !m.started {
		m.pre = append(m.pre, preAudio{pts: pts, au: au})
		if !m.startAudioOnly(decided) {
			return
		}
	} else {
		m.queueAudio(pts, au)
	}
	_ = m.cutAudio(decided, false) // a part that cannot be encoded is lost; the next ones are not
}

// startAudioOnly looks at the frames waiting for the start, in order, as far as the followed rendition has decided
// its boundaries (decided), and starts the rendition at the first frame at or after a boundary (the frame before
// it was looked at too, so it is the first): that boundary's segment, the followed timeline. It tells whether the
// rendition started.
func (m *Muxer) startAudioOnly(decided time.Duration) bool {
	bs, t0, wall0 := m.cfg.Follow.timeline()
	for i, a := range m.pre {
		if a.pts > decided {
			m.pre = m.pre[i:]
			if len(m.pre) > maxPreAudio {
				m.pre, m.havePrev = append([]preAudio(nil), m.pre[len(m.pre)/2:]...), false
			}
			return false
		}
		if m.havePrev {
			var start *boundary
			for j, b := range bs {
				if b.msn > 0 && b.dts > m.prevPTS && b.dts <= a.pts && (start == nil || b.dts > start.dts) {
					start = &bs[j]
				}
			}
			if start != nil {
				m.started, m.followed, m.t0, m.wall0, m.nextMSN = true, true, t0, wall0, start.msn
				m.segStart, m.partStart = start.dts-t0, start.dts-t0
				for _, a := range m.pre[i:] {
					m.queueAudio(a.pts, a.au)
				}
				m.pre = nil
				return true
			}
		}
		m.prevPTS, m.havePrev = a.pts, true
	}
	m.pre = m.pre[:0]
	return false
}

// cutAudio publishes the queued audio of an audio-only rendition that the followed rendition has decided the
// boundaries of (up to decided; final: all of it, the stream ends). A segment ends at the followed rendition's
// next boundary, with the last frame before it (after a gap in the audio that spans several boundaries, at the
// last of them); a part ends before the frame that would take it past PartTarget. A segment opens once the
// followed rendition has opened it: its ad markers are decided then.
func (m *Muxer) cutAudio(decided time.Duration, final bool) error {
	rate := int64(m.cfg.Audio.Config.SampleRate)
	decidedTicks := ticks(decided-m.t0, rate)
	bs, _, _ := m.cfg.Follow.timeline()
	i := 0 // the part so far: frames [0, i) of the queue
	for i < len(m.audioQ) {
		t := m.audioQ[i].ticks
		if !final && int64(t) >= decidedTicks {
			break
		}
		end, boundaryAt := time.Duration(0), false // the latest boundary after the segment's start, at or before t
		for _, b := range bs {
			if rel := b.dts - m.t0; b.msn > 0 && rel > m.segStart && ticks(rel, rate) <= int64(t) && (!boundaryAt || rel > end) {
				end, boundaryAt = rel, true
			}
		}
		switch {
		case !boundaryAt && (i == 0 || durationOf(t+mpeg4audio.SamplesPerAccessUnit+1, rate)-m.partStart <= PartTarget):
			i++ // frame i joins the part
			continue
		case boundaryAt && i == 0 && m.open == nil: // nothing of the segment yet: it starts there
			m.segStart, m.partStart = end, end
			continue
		case m.open == nil && !final && !m.cfg.Follow.opened(m.nextMSN):
			return nil // wait for the followed rendition to open the segment
		case !boundaryAt:
			end = durationOf(t, rate) // ticks(end) == t: frame i begins the next part
		}
		if err := m.flushPart(end, boundaryAt); err != nil { // frames [0, i): those before ticks(end)
			return err
		}
		m.partStart, i = end, 0
	}
	if final && len(m.audioQ) > 0 {
		return m.flushPart(durationOf(m.audioQ[len(m.audioQ)-1].ticks+mpeg4audio.SamplesPerAccessUnit, rate), true)
	}
	return nil
}

// opened tells whether segment msn has been opened (its ad markers are decided), for audio-only followers.
func (m *Muxer) opened(msn uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return msn < m.nextMSN
}

// durationOf converts a position on a clock of rate ticks per second to a duration, rounded up, so that
// ticks(durationOf(t, rate), rate) == t.
func durationOf(t uint64, rate int64) time.Duration {
	s, r := int64(t)/rate, int64(t)%rate
	return time.Duration(s)*time.Second + time.Duration((r*int64(time.Second)+rate-1)/rate)
}
