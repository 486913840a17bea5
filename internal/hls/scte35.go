package hls

import (
	"fmt"
	"strings"
	"time"
)

// SpliceInsert is the SCTE-35 splice_insert command an ad break carries in its EXT-X-DATERANGE (SCTE35-OUT):
// an out-of-network splice of the whole program at PTS, with a break duration and auto return. No library in
// our dependency set writes SCTE-35, and the command is 40-odd bytes, so it is encoded here.
type SpliceInsert struct {
	EventID     uint32
	PTS         uint64 // 90 kHz, 33 bits
	Duration    uint64 // 90 kHz, 33 bits
	Descriptors []byte // splice descriptors, already encoded (none for ad breaks)
}

type bitWriter struct {
	b    []byte
	nbit int
}

func (w *bitWriter) put(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> uint(w.nbit%8)
		}
		w.nbit++
	}
}

// Marshal encodes the splice_info_section (with its CRC-32).
func (s SpliceInsert) Marshal() []byte {
	var cmd bitWriter
	cmd.put(uint64(s.EventID), 32)
	cmd.put(0, 1)    // splice_event_cancel_indicator
	cmd.put(0x7f, 7) // reserved
	cmd.put(1, 1)    // out_of_network_indicator
	cmd.put(1, 1)    // program_splice_flag
	cmd.put(1, 1)    // duration_flag
	cmd.put(0, 1)    // splice_immediate_flag
	cmd.put(0xf, 4)  // reserved
	cmd.put(1, 1)    // splice_time: time_specified_flag
	cmd.put(0x3f, 6) // reserved
	cmd.put(s.PTS&(1<<33-1), 33)
	cmd.put(1, 1)    // break_duration: auto_return
	cmd.put(0x3f, 6) // reserved
	cmd.put(s.Duration&(1<<33-1), 33)
	cmd.put(0, 16) // unique_program_id
	cmd.put(0, 8)  // avail_num
	cmd.put(0, 8)  // avails_expected

	var body bitWriter
	body.put(0, 8)      // protocol_version
	body.put(0, 1)      // encrypted_packet
	body.put(0, 6)      // encryption_algorithm
	body.put(0, 33)     // pts_adjustment
	body.put(0xff, 8)   // cw_index (unused unencrypted; 0xFF as in the standard's samples)
	body.put(0xfff, 12) // tier
	body.put(uint64(len(cmd.b)), 12)
	body.put(0x05, 8) // splice_command_type: splice_insert
	body.b = append(body.b, cmd.b...)
	body.nbit += len(cmd.b) * 8
	body.put(uint64(len(s.Descriptors)), 16)
	body.b = append(body.b, s.Descriptors...)
	body.nbit += len(s.Descriptors) * 8

	var sec bitWriter
	sec.put(0xfc, 8) // table_id
	sec.put(0, 1)    // section_syntax_indicator
	sec.put(0, 1)    // private_indicator
	sec.put(3, 2)    // sap_type: not specified
	sec.put(uint64(len(body.b)+4), 12)
	out := append(sec.b, body.b...)
	crc := crc32MPEG2(out)
	return append(out, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
}

// crc32MPEG2 is the CRC-32 of MPEG-2 sections: polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected.
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// adBreak is an ad break in progress or about to start.
type adBreak struct {
	id    string
	dur   time.Duration
	start time.Duration // on the timeline; set when the break starts
	event uint32
}

// AdBreak inserts an ad break of duration d at the live edge: it starts at the next segment boundary (a
// keyframe), where the playlist gets an EXT-X-DATERANGE with the SCTE-35 splice_insert and EXT-X-CUE-OUT; the
// segments during the break carry EXT-X-CUE-OUT-CONT, and the first after it EXT-X-CUE-IN.
func (m *Muxer) AdBreak(id string, d time.Duration) {
	m.adEvents++
	m.adPending = &adBreak{id: id, dur: d, event: m.adEvents}
}

// adTags returns the ad-break lines of a segment starting at start (wall clock startWall); writer goroutine.
func (m *Muxer) adTags(start time.Duration, startWall time.Time) []string {
	var tags []string
	if a := m.adActive; a != nil {
		if elapsed := start - a.start; elapsed >= a.dur {
			tags = append(tags, "#EXT-X-CUE-IN")
			m.adActive = nil
		} else {
			tags = append(tags, fmt.Sprintf("#EXT-X-CUE-OUT-CONT:ElapsedTime=%s,Duration=%s", secs3(elapsed), secs3(a.dur)))
		}
	}
	if a := m.adPending; a != nil {
		m.adPending, m.adActive = nil, a
		a.start = start
		splice := SpliceInsert{EventID: a.event, PTS: uint64(ticks(start+tsOffset, videoTimescale)), Duration: uint64(ticks(a.dur, videoTimescale))}
		tags = append(tags,
			fmt.Sprintf(`#EXT-X-DATERANGE:ID="%s",START-DATE="%s",PLANNED-DURATION=%s,SCTE35-OUT=0x%s`,
				a.id, startWall.Format("2006-01-02T15:04:05.000Z07:00"), secs3(a.dur), strings.ToUpper(fmt.Sprintf("%x", splice.Marshal()))),
			fmt.Sprintf("#EXT-X-CUE-OUT:DURATION=%s", secs3(a.dur)))
	}
	return tags
}

func secs3(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
