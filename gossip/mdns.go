package gossip

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// MDNSServiceName is the DNS-SD service ChatterBox nodes announce on the
// local network.
const MDNSServiceName = "_chatterbox._udp"

// Discovery announces the node on the local network with mDNS and dials
// the ChatterBox nodes it finds. Close stops it and waits for its goroutine.
type Discovery struct {
	host   host.Host
	log    *slog.Logger
	svc    mdns.Service
	found  chan peer.AddrInfo
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// StartDiscovery starts mDNS announcing and browsing on h.
func StartDiscovery(h host.Host, log *slog.Logger) (*Discovery, error) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &Discovery{host: h, log: log, found: make(chan peer.AddrInfo, 32), cancel: cancel}
	d.svc = mdns.NewMdnsService(h, MDNSServiceName, d)
	if err := d.svc.Start(); err != nil {
		cancel()
		return nil, err
	}
	d.wg.Add(1)
	go d.dialLoop(ctx)
	return d, nil
}

// HandlePeerFound implements mdns.Notifee. It never blocks the resolver:
// when the queue is full the sighting is dropped, and the next mDNS
// announcement of that peer brings it back.
func (d *Discovery) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == d.host.ID() {
		return
	}
	select {
	case d.found <- ai:
	default:
		d.log.Debug("mdns: dial queue full; peer will be retried on its next announcement", "peer", ai.ID)
	}
}

func (d *Discovery) dialLoop(ctx context.Context) {
	defer d.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case ai := <-d.found:
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := d.host.Connect(dctx, ai); err != nil {
				d.log.Debug("mdns: dial failed", "peer", ai.ID, "err", err)
			} else {
				d.log.Debug("mdns: connected", "peer", ai.ID)
			}
			cancel()
		}
	}
}

// Close stops announcing and dialling. It is safe to call more than once.
func (d *Discovery) Close() error {
	var err error
	d.once.Do(func() {
		err = d.svc.Close()
		d.cancel()
		d.wg.Wait()
	})
	return err
}
