// Command apiproxy stands between the benchmarked tools and the sandbox's API
// server and counts their requests by verb, so that kube, kubectl and helm are
// compared on the same measure. It listens on plain HTTP on loopback, forwards
// with the credentials of --kubeconfig, writes a kubeconfig pointing at itself,
// and answers GET /__bench/counts (optionally ?reset=1) with the counts since the
// last reset, one "VERB N" per line.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	out := flag.String("write-kubeconfig", "", "where to write the kubeconfig that points at the proxy")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		log.Fatal(err)
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		log.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	proxy.FlushInterval = -1 // watches stream

	var mu sync.Mutex
	counts := map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("/__bench/counts", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var lines []string
		for verb, n := range counts {
			lines = append(lines, fmt.Sprintf("%s %d", verb, n))
		}
		sort.Strings(lines)
		fmt.Fprintln(w, strings.Join(lines, "\n"))
		if r.URL.Query().Get("reset") != "" {
			clear(counts)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		verb := r.Method
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
			verb = "WATCH"
		case r.Method == http.MethodGet && isList(r.URL.Path):
			verb = "LIST"
		case r.Method == http.MethodPatch && r.URL.Query().Get("dryRun") != "":
			verb = "PATCH(dry-run)"
		}
		mu.Lock()
		counts[verb]++
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: "http://" + l.Addr().String()}
	kc.AuthInfos["bench"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	kc.CurrentContext = "bench"
	if err := clientcmd.WriteToFile(*kc, *out); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "apiproxy listening on", l.Addr())
	log.Fatal(http.Serve(l, mux))
}

// isList tells a collection from an object: /api/v1/namespaces/x/configmaps
// (list) or .../configmaps/name (get). Discovery documents count as GET.
func isList(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return false
	}
	if len(rest) >= 2 && rest[0] == "namespaces" && len(rest) != 2 {
		rest = rest[2:]
	}
	return len(rest) == 1
}
