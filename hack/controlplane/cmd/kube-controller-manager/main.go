// Command kube-controller-manager is upstream's controller manager, built from its
// published module. The local control plane runs only a few of its controllers
// (ServiceAccounts, namespaces, garbage collection, ClusterRole aggregation) so the
// cluster behaves like a real one; agentgate never depends on it for correctness.
package main

import (
	"os"

	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
