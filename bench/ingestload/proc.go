package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// tcpQueues reads /proc/net/tcp and returns, for the established connections to serverPort on this machine, the
// bytes the server has not read yet (its receive queue) by the client's port, and the bytes the clients have not
// sent yet (their send queues) by the client's port. Together they are the media a server has received from a
// publisher, or been offered, but not consumed.
func tcpQueues(serverPort int) (serverRx, clientTx map[int]int64) {
	serverRx, clientTx = map[int]int64{}, map[int]int64{}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue ...
			fields := strings.Fields(sc.Text())
			if len(fields) < 5 || fields[3] != "01" { // ESTABLISHED
				continue
			}
			lp, rp := hexPort(fields[1]), hexPort(fields[2])
			txs, rxs, _ := strings.Cut(fields[4], ":")
			tx, _ := strconv.ParseInt(txs, 16, 64)
			rx, _ := strconv.ParseInt(rxs, 16, 64)
			switch serverPort {
			case lp:
				serverRx[rp] += rx
			case rp:
				clientTx[lp] += tx
			}
		}
		f.Close()
	}
	return serverRx, clientTx
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseInt(addr[i+1:], 16, 32)
	if err != nil {
		return -1
	}
	return int(p)
}
