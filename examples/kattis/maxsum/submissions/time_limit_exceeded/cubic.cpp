// every start and end, summed again each time: n^3
#include <cstdio>
#include <vector>
int main() {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    std::vector<long long> g(n);
    for (auto &x : g) scanf("%lld", &x);
    long long best = g[0];
    for (int s = 0; s < n; s++)
        for (int e = s; e < n; e++) {
            long long total = 0;
            for (int i = s; i <= e; i++) total += g[i];
            if (total > best) best = total;
        }
    printf("%lld\n", best);
}
