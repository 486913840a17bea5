package hls

// ID3 builds the ID3v2.4 tag IVS puts timed metadata in: one TXXX (user-defined text) frame, UTF-8, with an empty
// description and the PutMetadata payload as its value. Players expose the frame: hls.js as a metadata sample, the
// IVS player as a TEXT_METADATA_CUE with the payload as its text.
func ID3(payload []byte) []byte {
	frame := make([]byte, 0, len(payload)+2)
	frame = append(frame, 0x03, 0x00) // UTF-8, empty description terminated
	frame = append(frame, payload...)

	tag := make([]byte, 0, 20+len(frame))
	tag = append(tag, 'I', 'D', '3', 0x04, 0x00, 0x00)
	tag = appendSyncsafe(tag, 10+len(frame))
	tag = append(tag, 'T', 'X', 'X', 'X')
	tag = appendSyncsafe(tag, len(frame)) // ID3v2.4 frame sizes are syncsafe too
	tag = append(tag, 0x00, 0x00)
	return append(tag, frame...)
}

// appendSyncsafe appends n as a 28-bit syncsafe integer (7 bits a byte).
func appendSyncsafe(b []byte, n int) []byte {
	return append(b, byte(n>>21)&0x7f, byte(n>>14)&0x7f, byte(n>>7)&0x7f, byte(n)&0x7f)
}

// TXXX returns the value of the first TXXX frame of an ID3v2.3/2.4 tag, for tests and tools; ok is false when the
// tag has none or is malformed.
func TXXX(tag []byte) (value []byte, ok bool) {
	if len(tag) < 10 || string(tag[:3]) != "ID3" {
		return nil, false
	}
	v4 := tag[3] == 4
	size := syncsafe(tag[6:10])
	body := tag[10:]
	if size < len(body) {
		body = body[:size]
	}
	for len(body) >= 10 {
		id := string(body[:4])
		var n int
		if v4 {
			n = syncsafe(body[4:8])
		} else {
			n = int(body[4])<<24 | int(body[5])<<16 | int(body[6])<<8 | int(body[7])
		}
		if n < 0 || n > len(body)-10 {
			return nil, false
		}
		data := body[10 : 10+n]
		if id == "TXXX" && len(data) >= 1 {
			// encoding byte, description (terminated), value
			rest := data[1:]
			term := 1
			if data[0] == 1 || data[0] == 2 {
				term = 2
			}
			for i := 0; i+term <= len(rest); i += term {
				if rest[i] == 0 && (term == 1 || rest[i+1] == 0) {
					return rest[i+term:], true
				}
			}
			return nil, false
		}
		body = body[10+n:]
	}
	return nil, false
}

func syncsafe(b []byte) int {
	return int(b[0]&0x7f)<<21 | int(b[1]&0x7f)<<14 | int(b[2]&0x7f)<<7 | int(b[3]&0x7f)
}

// segmentID3Owner owns the PRIV frame each TS segment starts with (see tsFormat.encode).
const segmentID3Owner = "com.openivs.segment"

// segmentID3 is the heartbeat tag: an ID3v2.4 PRIV frame, the owner and the part's sequence number.
func segmentID3(seq uint32) []byte {
	frame := append([]byte(segmentID3Owner), 0, byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
	tag := []byte{'I', 'D', '3', 0x04, 0x00, 0x00}
	tag = appendSyncsafe(tag, 10+len(frame))
	tag = append(tag, 'P', 'R', 'I', 'V')
	tag = appendSyncsafe(tag, len(frame))
	tag = append(tag, 0x00, 0x00)
	return append(tag, frame...)
}
