# syntax=docker/dockerfile:1
# The UNetCluster silo, CPU and CUDA variants of one build (build from the repository root):
#   docker build -f deploy/docker/silo.Dockerfile --target cpu  -t unetcluster/silo:cpu  .
#   docker build -f deploy/docker/silo.Dockerfile --target cuda -t unetcluster/silo:cuda .
# Both run as the non-root user 'app' (uid 1654) and serve HTTP, with the probes /healthz/startup, /healthz/ready and
# /healthz/live, on 8080; Orleans' silo and gateway ports are 11111 and 30000, the data plane's 11112 when
# UNetCluster__Cluster__DataPort says so, as deploy/k8s does (README.md, "The cluster").
# The build and runtime stages are the same Ubuntu release, so build/patch-libtorchsharp.sh decides for the runtime.

ARG DOTNET_VERSION=10.0
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION}-noble AS source
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends patchelf gcc binutils && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Restore in a layer of its own, from the build and project files only: a change to the sources reuses the restored
# packages. (A test checks that every project the publish builds is copied here.)
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY src/Contracts/UNetCluster.Contracts.csproj src/Contracts/
COPY src/Data/UNetCluster.Data.csproj src/Data/
COPY src/Model/UNetCluster.Model.csproj src/Model/
COPY src/Training/UNetCluster.Training.csproj src/Training/
COPY src/Silo/UNetCluster.Silo.csproj src/Silo/
RUN dotnet restore src/Silo/UNetCluster.Silo.csproj
COPY . .

# CPU: TorchSharp-cpu (the default).
FROM source AS build
RUN dotnet publish src/Silo/UNetCluster.Silo.csproj -c Release --no-restore -o /app

# CUDA: TorchSharp-cuda-linux, through the opt-in build property UNetGpu (Directory.Build.props).
FROM source AS build-cuda
RUN dotnet publish src/Silo/UNetCluster.Silo.csproj -c Release -p:UNetGpu=true -o /app-cuda

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble AS cpu
# glibc malloc: transparent huge pages for large buffers and one arena, so that libtorch's per-step buffers are
# reused instead of page-faulted in afresh from the torch thread's own arena (bench/README.md, "Sync overhead").
ENV UNetCluster__Http__Urls=http://0.0.0.0:8080 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1
WORKDIR /app
COPY --from=build /app .
# The bundled ISBI 2012 data set (the default data set of a job); BundledData finds it above /app.
COPY --from=source /src/data /data
EXPOSE 8080 11111 11112 30000
USER app
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz/live HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "UNetCluster.Silo.dll"]

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble AS dotnet-runtime

FROM ${CUDA_IMAGE} AS cuda
# The .NET runtime of the CPU image on NVIDIA's CUDA + cuDNN runtime.
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends libicu74 ca-certificates && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1654 app && useradd --uid 1654 --gid 1654 --no-create-home --shell /usr/sbin/nologin app
ENV UNetCluster__Http__Urls=http://0.0.0.0:8080 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=build-cuda /app-cuda .
COPY --from=source /src/data /data
EXPOSE 8080 11111 11112 30000
USER app
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz/live HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "UNetCluster.Silo.dll"]
