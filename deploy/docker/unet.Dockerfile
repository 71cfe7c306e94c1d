# syntax=docker/dockerfile:1
# The unet CLI (submit, status, watch, list, cancel against a cluster; train, predict, evaluate locally), CPU and CUDA
# variants of one build (build from the repository root):
#   docker build -f deploy/docker/unet.Dockerfile --target cpu  -t unetcluster/unet:cpu  .
#   docker build -f deploy/docker/unet.Dockerfile --target cuda -t unetcluster/unet:cuda .
# Runs as the non-root user 'app' (uid 1654). It finds the cluster through UNET_REDIS (or UNET_GATEWAY) and
# UNET_CLUSTER_ID, as deploy/k8s/submit/job.yaml sets them.

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
COPY src/Client/UNetCluster.Client.csproj src/Client/
RUN dotnet restore src/Client/UNetCluster.Client.csproj
COPY . .

# CPU: TorchSharp-cpu (the default).
FROM source AS build
RUN dotnet publish src/Client/UNetCluster.Client.csproj -c Release --no-restore -o /app

# CUDA: TorchSharp-cuda-linux, through the opt-in build property UNetGpu (Directory.Build.props).
FROM source AS build-cuda
RUN dotnet publish src/Client/UNetCluster.Client.csproj -c Release -p:UNetGpu=true -o /app-cuda

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble AS cpu
# glibc malloc settings of the silo image (see silo.Dockerfile): 'unet train' runs an in-process silo.
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1
WORKDIR /app
COPY --from=build /app .
# The bundled ISBI 2012 data set, for 'unet train' in the container.
COPY --from=source /src/data /data
USER app
ENTRYPOINT ["dotnet", "unet.dll"]

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble AS dotnet-runtime

FROM ${CUDA_IMAGE} AS cuda
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends libicu74 ca-certificates && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1654 app && useradd --uid 1654 --gid 1654 --no-create-home --shell /usr/sbin/nologin app
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=build-cuda /app-cuda .
COPY --from=source /src/data /data
USER app
ENTRYPOINT ["dotnet", "unet.dll"]
