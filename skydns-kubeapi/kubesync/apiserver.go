package kubesync

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// apiserverRetry is how often a list or watch is tried again while the
// kube-apiserver cannot be reached: the bound on how late the sync notices
// that it serves again.
const apiserverRetry = 250 * time.Millisecond

// apiserver tracks whether the kube-apiserver answers the informers, and
// keeps their list and watch calls trying while it does not.
//
// Why: client-go's reflector sleeps between failed calls with a backoff
// that doubles up to 30 s, with as much again in jitter, and a shared
// informer has no option to change it. After an outage of half a minute
// the informers came back up to 37 s after the apiserver (a watch that
// came back "too old resource version" then relisted after yet another
// delay). Here a call that finds the apiserver unreachable does not fail:
// it is tried again every apiserverRetry until the apiserver answers, so
// the reflector's backoff never grows during an outage; after one the
// reflector relists after its first, short delay (0.8 to 1.6 s).
type apiserver struct {
	log *slog.Logger
	up  prometheus.Gauge

	mu   sync.Mutex
	down time.Time // when it stopped answering; zero while it answers
}

func newAPIServer(log *slog.Logger, up prometheus.Gauge) *apiserver {
	up.Set(1) // until a call says otherwise: the caches have not even started
	return &apiserver{log: log, up: up}
}

// unreachable reports whether err means the apiserver did not serve the
// call at all (no connection, no answer, or it asked to come back later),
// rather than answered it with an error.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err)
	}
	return true
}

// call runs f until the apiserver serves it or ctx ends.
func (a *apiserver) call(ctx context.Context, what string, f func(context.Context) error) error {
	for {
		err := f(ctx)
		if ctx.Err() != nil {
			return err // stopping: says nothing about the apiserver
		}
		if !unreachable(err) {
			a.serving()
			return err
		}
		a.lost(what, err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(apiserverRetry):
		}
	}
}

func (a *apiserver) lost(what string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.down.IsZero() {
		return
	}
	a.down = time.Now()
	a.up.Set(0)
	a.log.Warn("kubernetes sync: kube-apiserver unreachable; DNS keeps the records last synced, retrying every "+apiserverRetry.String(),
		"call", what, "err", err)
}

func (a *apiserver) serving() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down.IsZero() {
		return
	}
	a.log.Warn("kubernetes sync: kube-apiserver serving again", "down", time.Since(a.down).Round(time.Millisecond))
	a.down = time.Time{}
	a.up.Set(1)
}

// watchError is the informers' watch error handler (client-go's logs to
// klog, which SkyDNS does not show): a watch or list that ended with an
// error, after which the reflector lists again.
func (a *apiserver) watchError(what string) cache.WatchErrorHandlerWithContext {
	return func(_ context.Context, _ *cache.Reflector, err error) {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			a.log.Info("kubernetes sync: watch history expired, listing again", "informer", what, "err", err)
			return
		}
		a.log.Warn("kubernetes sync: watch failed, listing again", "informer", what, "err", err)
	}
}

// informers registers the services and endpoint slices informers in the
// factory with list and watch calls that go through a, before anything
// asks the factory for the stock ones (it keeps one informer per type).
func (a *apiserver) informers(f informers.SharedInformerFactory, client kubernetes.Interface) error {
	svcs := client.CoreV1().Services(metav1.NamespaceAll)
	slices := client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll)
	for _, i := range []struct {
		what  string
		obj   runtime.Object
		list  func(context.Context, metav1.ListOptions) (runtime.Object, error)
		watch func(context.Context, metav1.ListOptions) (watch.Interface, error)
	}{
		{"services", &corev1.Service{},
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return svcs.List(ctx, o) }, svcs.Watch},
		{"endpointslices", &discoveryv1.EndpointSlice{},
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return slices.List(ctx, o) }, slices.Watch},
	} {
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (out runtime.Object, err error) {
				err = a.call(ctx, "list "+i.what, func(ctx context.Context) error { out, err = i.list(ctx, o); return err })
				return out, err
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (out watch.Interface, err error) {
				err = a.call(ctx, "watch "+i.what, func(ctx context.Context) error { out, err = i.watch(ctx, o); return err })
				return out, err
			},
		}
		inf := f.InformerFor(i.obj, func(_ kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
			// As the stock informers: the reflector streams the initial list
			// (watch-list) only from clients that support it.
			return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), i.obj, resync,
				cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		})
		if err := inf.SetWatchErrorHandlerWithContext(a.watchError(i.what)); err != nil {
			return err
		}
	}
	return nil
}
