package alerts

import (
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"
)

// Destination is a receiver an alert reaches, with its Slack channels.
type Destination struct {
	Receiver string   `json:"receiver"`
	Channels []string `json:"channels"`
}

// Destinations walks Alertmanager's routing tree with Alertmanager's own
// code (config and dispatch packages) over a configuration as Alertmanager
// reports it, so the answer is the one Alertmanager itself gives.
func Destinations(amConfig string, ls model.LabelSet) ([]Destination, error) {
	cfg, err := config.Load(amConfig)
	if err != nil {
		return nil, err
	}
	var out []Destination
	for _, r := range dispatch.NewRoute(cfg.Route, nil).Match(ls) {
		d := Destination{Receiver: r.RouteOpts.Receiver}
		for _, rc := range cfg.Receivers {
			if rc.Name != d.Receiver {
				continue
			}
			for _, sc := range rc.SlackConfigs {
				d.Channels = append(d.Channels, sc.Channel)
			}
		}
		out = append(out, d)
	}
	return out, nil
}
