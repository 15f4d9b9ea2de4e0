module github.com/agentgate/agentgate/hack/tools/argocd-lua

go 1.26.0

// Pinned to what Argo CD's go.mod uses (argoproj/argo-cd master, v3): bump together.
require (
	github.com/yuin/gopher-lua v1.1.2
	layeh.com/gopher-json v0.0.0-20190114024228-97fed8db8427
)
